package sqlstore_test

import (
	"testing"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/conformance"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestConformance(t *testing.T) {
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			conformance.Run(t, func(t *testing.T) storage.Store { return sqltest.Open(t, backend) })
		})
	}
}
