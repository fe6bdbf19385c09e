package carbontracker

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

// The Go side of ct_emissions against the header, as cgo compiled it: every C field but
// struct_size has a Go field of the same name (case and underscores aside), the struct ends
// where the C compiler says, and fromC copies each field from its own offset.
func TestEmissionsLayoutIsTheHeaders(t *testing.T) {
	c := cEmissionsType
	if c.Size() != uintptr(cEmissionsSize) {
		t.Fatalf("cgo's ct_emissions is %d bytes, sizeof is %d", c.Size(), cEmissionsSize)
	}
	if c.Field(0).Name != "struct_size" || c.Field(0).Type.Size() != 4 {
		t.Fatalf("first field %+v", c.Field(0))
	}
	g := reflect.TypeOf(Emissions{})
	if c.NumField()-1 != g.NumField() {
		t.Fatalf("C has %d fields after struct_size, Go %d", c.NumField()-1, g.NumField())
	}
	// Distinct values in every C field, written at cgo's offsets.
	mem := reflect.New(c)
	base := unsafe.Pointer(mem.Pointer())
	for i := 1; i < c.NumField(); i++ {
		f := c.Field(i)
		p := unsafe.Add(base, f.Offset)
		switch f.Type.Kind() {
		case reflect.Float64:
			*(*float64)(p) = float64(i) + 0.25
		case reflect.Uint64:
			*(*uint64)(p) = uint64(i) << 40
		default:
			t.Fatalf("%s: unexpected kind %v", f.Name, f.Type.Kind())
		}
	}
	e := reflect.ValueOf(emissionsFromC(base))
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for i := 1; i < c.NumField(); i++ {
		cf := c.Field(i)
		gf, ok := g.FieldByNameFunc(func(n string) bool { return norm(n) == norm(cf.Name) })
		if !ok {
			t.Errorf("no Go field for %s", cf.Name)
			continue
		}
		v := e.FieldByIndex(gf.Index)
		switch v.Kind() {
		case reflect.Float64:
			if v.Float() != float64(i)+0.25 {
				t.Errorf("%s -> %s = %v", cf.Name, gf.Name, v.Float())
			}
		case reflect.Uint64:
			if v.Uint() != uint64(i)<<40 {
				t.Errorf("%s -> %s = %v", cf.Name, gf.Name, v.Uint())
			}
		default:
			t.Errorf("%s: Go kind %v", gf.Name, v.Kind())
		}
	}
}

// Status names are the header's: every CT_* of enum ct_status, with the value cgo gives it.
func TestStatusNamesAreTheHeaders(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "include", "carbon_tracker.h"))
	if err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`(?s)enum ct_status\s*\{(.*?)\}`).FindSubmatch(data)
	if body == nil {
		t.Fatal("no enum ct_status in the header")
	}
	comments := regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	names := regexp.MustCompile(`\bCT_[A-Z_]+\b`).FindAllString(comments.ReplaceAllString(string(body[1]), ""), -1)
	if len(names) != len(statuses) {
		t.Fatalf("header has %d statuses %v, the binding %d", len(names), names, len(statuses))
	}
	for i, name := range names {
		// Values follow the header's order (explicit or implicit, they count up from CT_OK = 0).
		if got := Status(i).String(); got != name {
			t.Errorf("status %d: binding says %s, header %s", i, got, name)
		}
	}
}
