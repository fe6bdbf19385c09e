module carbontracker-example

go 1.19

require carbontracker v0.0.0

replace carbontracker => ../../bindings/go
