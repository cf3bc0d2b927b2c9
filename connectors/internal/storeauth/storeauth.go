// Package storeauth holds what the connectors that talk to Sluice's store
// (streams and queues) share about signing their requests: the options
// and how they become credentials.
package storeauth

import (
	"os"
	"strings"

	"github.com/sluicehq/sluice/connectors"
	"github.com/sluicehq/sluice/store/client"
)

// Options are the region and credential options of a store connector.
var Options = []connectors.Option{
	{Key: "aws.region", DefaultDoc: "`AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`", Doc: "region of signed requests"},
	{Key: "aws.credentials.basic.accesskeyid", DefaultDoc: "`AWS_ACCESS_KEY_ID`",
		Doc: "sign requests with SigV4 with this access key (a store run with `--access-key` requires it)"},
	{Key: "aws.credentials.basic.secretkey", DefaultDoc: "`AWS_SECRET_ACCESS_KEY`", Doc: "the secret key of the access key"},
}

// Credentials are a table's signing credentials: its options, else the
// AWS_* environment variables, else none (nil: unsigned requests).
func Credentials(o *connectors.Values) (*client.Credentials, error) {
	id, hasID := o.String("aws.credentials.basic.accesskeyid"), o.Has("aws.credentials.basic.accesskeyid")
	secret, hasSecret := o.String("aws.credentials.basic.secretkey"), o.Has("aws.credentials.basic.secretkey")
	region := client.EnvRegion()
	if o.Has("aws.region") {
		region = strings.TrimSpace(o.String("aws.region"))
	}
	switch {
	case hasID != hasSecret:
		return nil, o.Err("options %q and %q go together", "aws.credentials.basic.accesskeyid", "aws.credentials.basic.secretkey")
	case hasID:
		if strings.TrimSpace(id) == "" || secret == "" {
			return nil, o.Errorf("aws.credentials.basic.accesskeyid", "empty credentials")
		}
	default:
		id, secret = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return nil, nil
		}
	}
	return &client.Credentials{AccessKey: strings.TrimSpace(id), SecretKey: secret, Region: region}, nil
}
