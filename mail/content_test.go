package mail_test

import (
	"reflect"
	"time"

	"github.com/canopyhq/canopy"
)

// data is every value some email shows, so that a test can write one
// sample and render it as any kind; as makes the kind's content type of it.
type data struct {
	Brand             canopy.Brand
	AccountName       string
	ParentAccountName string
	UserName          string
	Email             string
	Username          string
	Role              string
	Link              string
	ExpiresAt         time.Time
	SignIn            bool
	NewEmail          string
	OtherAccountName  string
	Message           string
	DeclineLink       string
	NewAccount        bool
	ShareRole         string
	UmbrellaPays      bool
	DelegatedAdmin    bool
	CreditType        string
	Threshold         int64
	Balance           int64
}

// as returns the content of the email kind named template, with each of
// its fields taken from d.
func as(template string, d data) canopy.Email {
	for _, kind := range canopy.EmailKinds {
		if kind.Template() != template {
			continue
		}
		v := reflect.New(reflect.TypeOf(kind).Elem())
		v.Elem().Set(reflect.ValueOf(kind).Elem())
		copyFields(v.Elem(), reflect.ValueOf(d))
		return v.Interface().(canopy.Email)
	}
	panic("no email kind " + template)
}

func copyFields(dst, src reflect.Value) {
	for i := range dst.NumField() {
		f := dst.Type().Field(i)
		if f.Anonymous {
			copyFields(dst.Field(i), src)
			continue
		}
		if s := src.FieldByName(f.Name); s.IsValid() {
			dst.Field(i).Set(s)
		}
	}
}
