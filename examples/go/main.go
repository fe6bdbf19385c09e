// A Go service loop that reports its emissions: bash examples/go/run.sh [OUTPUT_DIR]
package main

import (
	"fmt"
	"math"
	"os"
	"time"

	carbontracker "github.com/carbon-tracker/carbon-tracker/bindings/go"
)

func main() {
	outDir := "target/examples"
	if len(os.Args) > 1 {
		outDir = os.Args[1]
	}
	tracker, err := carbontracker.New(
		carbontracker.WithProjectName("go-example"),
		carbontracker.WithCountryISOCode("SWE"), carbontracker.WithRegion("SE3"),
		carbontracker.WithMeasurePower(time.Second), carbontracker.WithOutputDir(outDir),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() {
		if err := tracker.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	if err := tracker.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	x := 0.0
	for batch := 1; batch <= 3; batch++ {
		for i := 1; i < 20_000_000; i++ {
			x += math.Sqrt(float64(i))
		}
		e, err := tracker.Flush()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("batch %d: %.2f s, %.3g kWh, %.3g kg CO2e\n", batch, e.DurationS, e.EnergyConsumedKWh, e.EmissionsKg)
	}
	e, err := tracker.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("total (checksum %.0f): %.2f s, %.3g kWh, %.3g kg CO2e at %g g/kWh; rows in %s/emissions.csv\n",
		x, e.DurationS, e.EnergyConsumedKWh, e.EmissionsKg, e.CarbonIntensityGPerKWh, outDir)
}
