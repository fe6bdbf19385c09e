module carbontracker

go 1.19
