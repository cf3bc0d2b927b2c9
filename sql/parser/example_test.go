package parser_test

import (
	"fmt"

	"github.com/sluicehq/sluice/sql/parser"
)

// A planner parses each query statement of a script with the statement's
// own position, and walks the AST.
func ExampleParseQuery() {
	stmts, err := parser.ParseScript("SET 'table.exec.state.ttl' = '1 h';\n" +
		"INSERT INTO top SELECT * FROM (\n  SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid)\nWHERE rn <= 3")
	if err != nil {
		panic(err)
	}
	q, err := stmts[1].ParseQuery()
	if err != nil {
		panic(err)
	}
	parser.Inspect(q, func(n any) bool {
		if c, ok := n.(*parser.Call); ok && c.Over != nil {
			fmt.Printf("%s at %s\n", c.Name, c.Pos)
		}
		return true
	})
	fmt.Println(q)
	_, err = parser.ParseQuery("SELECT COUNT(a FROM t", parser.Pos{Line: 1, Col: 1})
	fmt.Println(err)
	// Output:
	// ROW_NUMBER at 3:13
	// INSERT INTO `top` SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY `auction` ORDER BY `price` DESC) AS `rn` FROM `bid`) WHERE `rn` <= 3
	// line 1:16: expected ')' to close the call of COUNT at 1:8, found 'FROM'
}
