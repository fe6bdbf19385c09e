// A Go program outside the repository that requires the carbontracker module and finds the
// installed library with pkg-config only (scripts/install-test.sh copies this directory).
package main

import (
	"errors"
	"fmt"
	"os"

	carbontracker "github.com/carbon-tracker/carbon-tracker/bindings/go"
)

func main() {
	if _, err := carbontracker.New(carbontracker.Set("projet_name", "typo")); !errors.Is(err, carbontracker.ErrInvalidOption) {
		fmt.Println("expected ErrInvalidOption, got", err)
		os.Exit(1)
	}
	t, err := carbontracker.New(carbontracker.WithOffline(true), carbontracker.WithCountryISOCode("FRA"),
		carbontracker.WithProjectName(`go\user`), carbontracker.WithOutputDir(os.Args[1]))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := t.Start(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	e, err := t.Stop()
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := t.Close(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Printf("go consumer: carbon-tracker %s, %.6g g/kWh, %d measurement(s)\n", carbontracker.Version(), e.CarbonIntensityGPerKWh, e.Measurements)
	if e.CarbonIntensityGPerKWh != 56.039 {
		os.Exit(1)
	}
}
