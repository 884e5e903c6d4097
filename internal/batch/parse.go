package batch

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"microtask/internal/apperr"
	"microtask/internal/platform/idgen"
	"microtask/internal/task"
)

// placeholder is {{column}}, spaces inside the braces allowed.
var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// The fields of a task that may hold placeholders.
var textFields = []string{"task_title", "task_detail", "submission_info"}

// render fills text's placeholders with the row's values, by column.
func render(text string, values map[string]string) string {
	var b strings.Builder
	last := 0
	for _, m := range placeholder.FindAllStringSubmatchIndex(text, -1) {
		b.WriteString(text[last:m[0]])
		b.WriteString(values[text[m[2]:m[3]]])
		last = m[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

// uses returns the columns text refers to.
func uses(text string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

func (t Template) texts() [3]string { return [3]string{t.Title, t.Detail, t.SubmissionInfo} }

// TaskID is the id of the task a batch makes of a row: derived, so that
// the funding operation run again makes the same tasks.
func TaskID(batchID string, row int) string {
	return idgen.Derive("batch-task", batchID, strconv.Itoa(row))
}

// task is the task the batch makes of the row: the template, its text
// filled with the row's values and trimmed, as task.NewTask.Check trims.
func (b Batch) task(r Row) task.Batched {
	values := make(map[string]string, len(b.Columns))
	for i, c := range b.Columns {
		if i < len(r.Values) {
			values[c] = r.Values[i]
		}
	}
	t := b.Template
	return task.Batched{ID: TaskID(b.ID, r.N), Row: r.N, NewTask: task.NewTask{
		Text: task.Text{
			Title: strings.TrimSpace(render(t.Title, values)), Detail: strings.TrimSpace(render(t.Detail, values)),
			SubmissionInfo: strings.TrimSpace(render(t.SubmissionInfo, values)), ImageURL: t.ImageURL,
		},
		Workers: t.Workers, Pay: t.Pay, CompletionDate: t.CompletionDate, Category: t.Category, Tags: t.Tags, TimeAllotted: t.TimeAllotted,
		Requirements: t.Requirements,
	}}
}

// fields collects the bad fields of a batch, at most MaxErrors of them.
type fields struct{ apperr.Fields }

func (f *fields) add(field, format string, args ...any) {
	switch {
	case len(f.Fields) < MaxErrors:
		f.Add(field, format, args...)
	case len(f.Fields) == MaxErrors:
		f.Add("items", "has more bad values than these %d; fix them and send it again", MaxErrors)
	}
}

func (f *fields) full() bool { return len(f.Fields) > MaxErrors }

// prepare checks a new batch whole, every row of it, at now, and returns
// the template as the batch keeps it (its own fields normalized as a
// task's are, its text with its placeholders), the header and the rows;
// or an Invalid error naming each bad field of the template and each bad
// row and column of the items ("items[3].city", rows counted from 1 after
// the header).
// qualErrs names the template's qualification requirements the buyer may
// not make (Tasks.CheckQualifications), which prepare reports with the
// rest.
func prepare(in NewBatch, now time.Time, qualErrs error) (Template, []string, []Row, error) {
	var errs fields
	if utf8.RuneCountInString(in.Name) > MaxNameLen {
		errs.add("name", "must be at most %d characters", MaxNameLen)
	}
	// The template's own fields, once: its text with its placeholders
	// empty, so that only the rows' values decide the text's length.
	probe := in.Template
	probe.Title, probe.Detail, probe.SubmissionInfo = render(probe.Title, nil), render(probe.Detail, nil), render(probe.SubmissionInfo, nil)
	probe.CompletionDate = probe.CompletionDate.UTC().Truncate(time.Millisecond)
	var terr *apperr.Error
	if err := probe.Check(now); errors.As(err, &terr) {
		for _, fe := range terr.Fields {
			if !slices.Contains(textFields, fe.Field) {
				errs.add("template."+fe.Field, "%s", fe.Message)
			}
		}
	}
	if errors.As(qualErrs, &terr) {
		for _, fe := range terr.Fields {
			errs.add("template."+fe.Field, "%s", fe.Message)
		}
	}
	tpl := Template{Title: in.Template.Title, Detail: in.Template.Detail, SubmissionInfo: in.Template.SubmissionInfo,
		ImageURL: probe.ImageURL, Workers: probe.Workers, Pay: probe.Pay, CompletionDate: probe.CompletionDate,
		Category: probe.Category, Tags: probe.Tags, TimeAllotted: probe.TimeAllotted, Requirements: probe.Requirements}

	r := csv.NewReader(bytes.NewReader(in.Items))
	r.FieldsPerRecord = -1 // a row of another length is reported, not a parse error
	header, err := r.Read()
	if err != nil {
		errs.add("items", "must be a CSV file with a header line and 1 to %d rows", MaxRows)
		return Template{}, nil, nil, errs.Err()
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff") // a byte-order mark from a spreadsheet
	cols := map[string]bool{}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
		switch h := header[i]; {
		case h == "" || utf8.RuneCountInString(h) > 100:
			errs.add(fmt.Sprintf("items.header[%d]", i+1), "must be a column name of 1 to 100 characters")
		case cols[h]:
			errs.add(fmt.Sprintf("items.header[%d]", i+1), "repeats the column %q", h)
		}
		cols[header[i]] = true
	}
	if len(header) > MaxColumns {
		errs.add("items", "must have at most %d columns", MaxColumns)
	}
	used := map[string]bool{}
	for i, text := range tpl.texts() {
		for _, c := range uses(text) {
			used[c] = true
			if !cols[c] {
				errs.add("template."+textFields[i], "refers to {{%s}}, which is not a column of items", c)
			}
		}
	}
	b := Batch{Template: tpl, Columns: header}
	var rows []Row
	for n := 1; !errs.full(); n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs.add("items", "is not valid CSV after row %d: %v", n-1, err)
			break
		}
		if n > MaxRows {
			errs.add("items", "must have at most %d rows", MaxRows)
			break
		}
		if len(rec) != len(header) {
			errs.add(fmt.Sprintf("items[%d]", n), "has %d values, the header %d", len(rec), len(header))
			continue
		}
		row := Row{N: n, Values: rec}
		for i, v := range rec {
			switch {
			case utf8.RuneCountInString(v) > MaxCellLen:
				errs.add(fmt.Sprintf("items[%d].%s", n, header[i]), "must be at most %d characters", MaxCellLen)
			case used[header[i]] && strings.TrimSpace(v) == "":
				errs.add(fmt.Sprintf("items[%d].%s", n, header[i]), "is empty, and the template uses it")
			}
		}
		nt := b.task(row)
		if err := nt.Check(now); errors.As(err, &terr) {
			for _, fe := range terr.Fields {
				if slices.Contains(textFields, fe.Field) {
					errs.add(fmt.Sprintf("items[%d].%s", n, fe.Field), "%s, once filled with this row", fe.Message)
				}
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 && len(errs.Fields) == 0 {
		errs.add("items", "has no rows after its header")
	}
	if err := errs.Err(); err != nil {
		return Template{}, nil, nil, err
	}
	return tpl, header, rows, nil
}
