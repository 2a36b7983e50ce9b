-- +goose Up
-- A part's ext_dec, when set, equals its ext_raw (the decimal form of an id
-- written in decimal digits), so the lookup of a hexadecimal receipt's
-- decimal value goes through parts_raw, and this index only cost every part
-- a write (about 1 % of the gateway's throughput, docs/BENCHMARKS.md).
DROP INDEX parts_dec;

-- +goose Down
CREATE INDEX parts_dec ON parts (carrier, ext_dec) WHERE ext_dec <> '';
