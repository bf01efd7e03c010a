package attempt

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document lists the classes from the struct tag: it must be
// the closed set, and each class must say something.
func TestClassesAreDocumented(t *testing.T) {
	f, _ := reflect.TypeFor[Record]().FieldByName("ErrorClass")
	if enum := strings.Split(f.Tag.Get("enum"), ","); !slices.Equal(enum, Classes) {
		t.Errorf("ErrorClass enum tag %q, want Classes %q", enum, Classes)
	}
	doc := f.Tag.Get("doc")
	for _, c := range Classes {
		if !strings.Contains(doc, c+":") {
			t.Errorf("ErrorClass doc does not explain %s", c)
		}
		if Describe(c, 503) == "" {
			t.Errorf("Describe(%s) is empty", c)
		}
	}
}

// Public shows the class's words, never what a record stored.
func TestPublicHidesTheNetworkError(t *testing.T) {
	tests := []struct {
		name string
		in   Record
		want string
	}{
		{
			name: "a dial error of an older record",
			in:   Record{ErrorClass: ClassConnection, Error: "Post \"https://x.example/\": dial tcp 10.1.2.3:443: connect: connection refused"},
			want: "the connection to the endpoint failed",
		},
		{
			name: "a resolver error",
			in:   Record{ErrorClass: ClassDNS, Error: "dial tcp: lookup x.invalid on 127.0.0.53:53: no such host"},
			want: "the endpoint's host name could not be resolved",
		},
		{name: "a status", in: Record{ErrorClass: ClassStatus, StatusCode: 503, Error: "503 Busy here"}, want: "503 Service Unavailable"},
		{name: "an unnamed status", in: Record{ErrorClass: ClassStatus, StatusCode: 599}, want: "599"},
		{name: "a success", in: Record{StatusCode: 200}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.Public(); got.Error != tt.want || got.ErrorClass != tt.in.ErrorClass {
				t.Errorf("Public() = %q (%s), want %q", got.Error, got.ErrorClass, tt.want)
			}
		})
	}
}
