module github.com/sop-rs/sop/bindings/go

go 1.24
