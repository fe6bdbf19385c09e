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
	checkLayout(t, cEmissionsType, uintptr(cEmissionsSize), reflect.TypeOf(Emissions{}), func(p unsafe.Pointer) reflect.Value {
		return reflect.ValueOf(emissionsFromC(p))
	})
}

// checkLayout writes a distinct value into every C field after struct_size (at cgo's offsets),
// converts the memory with fromC, and checks that each value arrives in the Go field of the same
// name.
func checkLayout(t *testing.T, c reflect.Type, cSize uintptr, g reflect.Type, fromC func(unsafe.Pointer) reflect.Value) {
	t.Helper()
	if c.Size() != cSize {
		t.Fatalf("cgo's %s is %d bytes, sizeof is %d", c, c.Size(), cSize)
	}
	if c.Field(0).Name != "struct_size" || c.Field(0).Type.Size() != 4 {
		t.Fatalf("first field %+v", c.Field(0))
	}
	if c.NumField()-1 != g.NumField() {
		t.Fatalf("C has %d fields after struct_size, Go %d", c.NumField()-1, g.NumField())
	}
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
		case reflect.Uint32, reflect.Int32: // C enums
			*(*uint32)(p) = uint32(i)
		default:
			t.Fatalf("%s: unexpected kind %v", f.Name, f.Type.Kind())
		}
	}
	got := fromC(base)
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for i := 1; i < c.NumField(); i++ {
		cf := c.Field(i)
		gf, ok := g.FieldByNameFunc(func(n string) bool { return norm(n) == norm(cf.Name) })
		if !ok {
			t.Errorf("no Go field for %s", cf.Name)
			continue
		}
		v := got.FieldByIndex(gf.Index)
		var ok2 bool
		switch v.Kind() {
		case reflect.Float64:
			ok2 = v.Float() == float64(i)+0.25
		case reflect.Uint64:
			ok2 = v.Uint() == uint64(i)<<40
		case reflect.Int:
			ok2 = v.Int() == int64(i)
		default:
			t.Errorf("%s: Go kind %v", gf.Name, v.Kind())
			continue
		}
		if !ok2 {
			t.Errorf("%s -> %s = %v", cf.Name, gf.Name, v)
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
