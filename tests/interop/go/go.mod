module github.com/sop-rs/sop/tests/interop/go

go 1.24

require github.com/sop-rs/sop/bindings/go v0.0.0

replace github.com/sop-rs/sop/bindings/go => ../../../bindings/go
