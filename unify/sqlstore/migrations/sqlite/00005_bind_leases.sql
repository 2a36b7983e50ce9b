-- +goose Up
-- A carrier's binds are shared by every gateway instance on this database:
-- slot i (0 <= i < binds) of a carrier is held by one instance at a time,
-- until lease_until (unix microseconds) unless its holder renews it. An
-- instance binds only on a slot it holds, so the carrier never sees more
-- than binds binds, and a dead instance's slots are taken over once their
-- leases run out.
CREATE TABLE bind_leases (
    carrier     TEXT NOT NULL,
    slot        INTEGER NOT NULL,
    owner       TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    PRIMARY KEY (carrier, slot)
);

-- The instances that want a carrier's binds, each until its membership
-- lapses: how many there are decides each one's fair share of the slots.
CREATE TABLE bind_members (
    carrier     TEXT NOT NULL,
    owner       TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    PRIMARY KEY (carrier, owner)
);

-- +goose Down
DROP TABLE bind_members;
DROP TABLE bind_leases;
