package sqlstore_test

import (
	"testing"

	"github.com/auther/auther/internal/store"
	"github.com/auther/auther/internal/store/storetest"
	"github.com/auther/auther/internal/testdb"
)

func TestConformance(t *testing.T) {
	for _, b := range testdb.Backends {
		t.Run(b.Name, func(t *testing.T) {
			storetest.Run(t, func(t testing.TB) store.Store { return b.Open(t) })
		})
	}
}
