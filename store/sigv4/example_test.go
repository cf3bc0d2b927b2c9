package sigv4_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/sluicehq/sluice/store/sigv4"
)

// A Kinesis handler reads the body with a cap, verifies the signature, and
// answers a failure with AWS's error name and status.
func ExampleVerifier() {
	v := &sigv4.Verifier{
		Credentials: map[string]string{"AKIDEXAMPLE": "secret"},
		Region:      "us-east-1",
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 5<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r, body); err != nil {
			var e *sigv4.Error
			errors.As(err, &e)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(e.Status)
			json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
			return
		}
		// … dispatch on X-Amz-Target …
	})
}
