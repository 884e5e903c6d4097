package main

import (
	"math/rand/v2"
	"testing"
)

// TestProjectsStepsFallBackToOneThatActs: on a run's first request nothing
// exists yet but the seeded users, and every step of the projects mix falls
// back, without a loop, to one that sends a request (posting a job,
// browsing jobs or listing invoices), so a client never spins.
func TestProjectsStepsFallBackToOneThatActs(t *testing.T) {
	users := []account{{ID: "u1", Token: "t1"}, {ID: "u2", Token: "t2"}}
	p := &projects{rnd: rand.New(rand.NewPCG(1, 2)), buyers: users, workers: users, invoices: map[string][]string{}}
	for _, part := range projectParts {
		seen := map[string]bool{}
		action := part.name
		for {
			if seen[action] {
				t.Fatalf("%s falls back in a loop through %s", part.name, action)
			}
			seen[action] = true
			s, ok := p.pick(action)
			if ok {
				if s.method == "" || s.path == "" || s.token == "" {
					t.Errorf("%s (as %s) = %+v, want a request", part.name, action, s)
				}
				break
			}
			if fallback[action] == "" {
				t.Fatalf("%s has nothing to act on and no fallback", action)
			}
			action = fallback[action]
		}
	}
	total := 0
	for _, part := range projectParts {
		total += part.weight
	}
	if total != 100 {
		t.Errorf("the projects mix's parts add up to %d, want 100", total)
	}
}
