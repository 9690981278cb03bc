package changesets

import (
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-playground/validator/v10"
)

// validate is shared: a *validator.Validate caches each struct's parsed
// tags and is safe for concurrent use.
var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Name fields by column, as Ecto does, so messages read "url: ...".
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	must(v.RegisterValidation("maxbytes", func(fl validator.FieldLevel) bool {
		n, err := strconv.Atoi(fl.Param())
		return err == nil && len(fl.Field().String()) <= n
	}))
	// A text key must be something PostgreSQL's text type can hold and give
	// back byte for byte: valid UTF-8 and no NUL.
	must(v.RegisterValidation("text", func(fl validator.FieldLevel) bool {
		return isText(fl.Field().String())
	}))
	// A storable instant lies in the years both Go's encoders and
	// PostgreSQL's timestamp types handle without surprise.
	must(v.RegisterValidation("storable", func(fl validator.FieldLevel) bool {
		t, ok := fl.Field().Interface().(time.Time)
		return ok && t.Year() >= 1 && t.Year() <= 9999
	}))
	return v
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// check runs the struct's tags and appends one FieldError per failing
// field, in declaration order.
func check(s any, into []FieldError) []FieldError {
	err := validate.Struct(s)
	if err == nil {
		return into
	}
	verrs, ok := err.(validator.ValidationErrors)
	if !ok {
		// Only a programming error (a non-struct) gets here.
		panic(err)
	}
	for _, fe := range verrs {
		into = append(into, FieldError{Field: fe.Field(), Message: message(fe)})
	}
	return into
}

// message words a validator failure the way Ecto does.
func message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "can't be blank"
	case "maxbytes":
		return "should be at most " + fe.Param() + " byte(s)"
	case "text":
		return "must be valid UTF-8 without NUL bytes"
	case "gtfield":
		return "must be after " + column(fe.Param())
	case "storable":
		return "is out of range"
	default:
		return "is invalid (" + fe.Tag() + ")"
	}
}

// column turns a Go field name into its snake_case column: InsertedAt
// becomes inserted_at.
func column(goName string) string {
	var b strings.Builder
	for i, r := range goName {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
