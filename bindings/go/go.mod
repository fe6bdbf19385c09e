module github.com/carbon-tracker/carbon-tracker/bindings/go

go 1.19
