package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	"microtask/internal/apperr"
	"microtask/internal/auth"
)

var (
	errEmptyBody = apperr.New(apperr.Malformed, "empty_body", "the request body is empty; send a JSON object")
	errBadJSON   = apperr.New(apperr.Malformed, "malformed_json", "the request body is not valid JSON")
	errTooLarge  = apperr.New(apperr.TooLarge, "body_too_large", "the request body is too large")
	errNotJSON   = apperr.New(apperr.Unsupported, "unsupported_media_type",
		"send the body as JSON with Content-Type: application/json")
)

// decodeJSON reads the request body as one JSON object into dst. Unknown
// fields, and values of the wrong JSON type (such as an object where a string
// belongs, the shape of a query-operator injection), are refused field by
// field before anything reaches a service.
func decodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errNotJSON
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return errBadJSON.WithMessage("the request body has data after its JSON object")
		}
		return nil
	}
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return errTooLarge.WithMessage("the request body is larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return errEmptyBody
	case errors.As(err, &syntaxErr):
		return errBadJSON.WithMessage("the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadJSON.WithMessage("the request body ends in the middle of its JSON")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errBadJSON.WithMessage("the request body must be a JSON object")
		}
		return apperr.InvalidFields(apperr.FieldError{Field: typeErr.Field, Message: "must be " + jsonTypeName(typeErr.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this one.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.InvalidFields(apperr.FieldError{Field: name, Message: "is not a field of this request"})
	default:
		return errBadJSON
	}
}

func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	default:
		return "an object"
	}
}

// readRequest decodes the JSON body into dst (a pointer to a request
// struct) and checks it.
func (s *Server) readRequest(r *http.Request, dst any) error {
	if err := decodeJSON(r, dst); err != nil {
		return err
	}
	return s.check(dst)
}

// check trims a decoded request's text fields if it has a trim method, and
// validates it.
func (s *Server) check(dst any) error {
	if t, ok := dst.(interface{ trim() }); ok {
		t.trim()
	}
	return s.validate(dst)
}

// validate checks a request struct's `validate` tags and returns an
// apperr.Error of kind Invalid listing every bad field by its JSON name.
func (s *Server) validate(v any) error {
	err := s.validator.Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate %T: %w", v, err)
	}
	fields := make([]apperr.FieldError, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, apperr.FieldError{Field: fe.Field(), Message: validationMessage(fe)})
	}
	return apperr.InvalidFields(fields...)
}

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Report fields by the names clients send.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		if name == "" {
			name = f.Tag.Get("query")
		}
		return name
	})
	// The password policy is the auth package's; the tag lets its message
	// come back with every other field error in one response.
	_ = v.RegisterValidation("password", func(fl validator.FieldLevel) bool {
		return auth.PasswordProblem(fl.Field().String()) == ""
	})
	registerOptional(v)
	return v
}

// validationMessage turns one failed rule into a sentence for the client.
func validationMessage(fe validator.FieldError) string {
	isText := fe.Kind() == reflect.String
	switch fe.Tag() {
	case "required":
		return "is required"
	case "kept":
		return "cannot be cleared; leave it out to keep it"
	case "email":
		return "must be a valid email address"
	case "url", "http_url":
		return "must be an http or https URL"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "min", "gte":
		if isText {
			return fmt.Sprintf("must be at least %s characters", fe.Param())
		}
		return "must be at least " + fe.Param()
	case "max", "lte":
		if isText {
			return fmt.Sprintf("must be at most %s characters", fe.Param())
		}
		return "must be at most " + fe.Param()
	case "unique":
		return "must not repeat a value"
	case "len":
		return fmt.Sprintf("must be exactly %s characters", fe.Param())
	case "password":
		pw, _ := fe.Value().(string)
		return auth.PasswordProblem(pw)
	default:
		return "is not valid (" + fe.Tag() + ")"
	}
}
