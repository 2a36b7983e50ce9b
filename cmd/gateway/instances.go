package main

import (
	"math/rand/v2"
	"os"
	"strconv"

	"gateway/sms/smpp"
	"gateway/unify/sqlstore"
)

// Several gateway instances on one PostgreSQL database share its work (job
// and event leases) and each carrier's binds and TPS (bind slot leases).
var (
	_ smpp.SlotLeaser = (*sqlstore.BindLeaser)(nil)
	_ smpp.SlotSharer = (*sqlstore.BindLeaser)(nil)
)

// instanceName names this process in every lease it takes. It must differ
// between instances, including one restarted on the same host with the same
// pid: a successor must not take its predecessor's leases for its own.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gateway"
	}
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64()&0xffffff, 36)
}

// bindSlots is the SMPP links' SlotLeaser: nil on SQLite, where one process
// owns the database and every bind, the store's on PostgreSQL, where any
// number of instances may run.
func bindSlots(store *sqlstore.Store, owner string) smpp.SlotLeaser {
	if store.Dialect() != sqlstore.Postgres {
		return nil
	}
	return &sqlstore.BindLeaser{Store: store, Owner: owner}
}
