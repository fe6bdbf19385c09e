module example.com/carbontracker-example

go 1.19

require github.com/carbon-tracker/carbon-tracker/bindings/go v0.1.0

replace github.com/carbon-tracker/carbon-tracker/bindings/go => ../../bindings/go
