package main

import (
	"testing"
	"time"
)

func TestBalancerTakesReplicasInTurn(t *testing.T) {
	b := newBalancer()
	replicas := []string{"a:1", "b:1", "c:1"}
	var got []string
	for range 6 {
		got = append(got, b.pick("adder 1.0.0", replicas, ""))
	}
	want := []string{"a:1", "b:1", "c:1", "a:1", "b:1", "c:1"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("turns: got %v, want %v", got, want)
		}
	}
}

func TestBalancerPassesOverARefusingReplicaForAWhile(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBalancer()
	b.now = func() time.Time { return now }
	replicas := []string{"a:1", "b:1", "c:1"}
	b.refusedBy("b:1")
	for range 6 {
		if got := b.pick("adder 1.0.0", replicas, ""); got == "b:1" {
			t.Fatalf("picked the refusing replica")
		}
	}
	now = now.Add(refusedPause + time.Second)
	seen := map[string]bool{}
	for range 3 {
		seen[b.pick("adder 1.0.0", replicas, "")] = true
	}
	if !seen["b:1"] {
		t.Fatalf("the replica is not taken again after the pause: %v", seen)
	}
}

func TestBalancerRetriesElsewhereAndFallsBackWhenAllRefuse(t *testing.T) {
	b := newBalancer()
	replicas := []string{"a:1", "b:1"}
	if got := b.pick("j 1", replicas, "a:1"); got != "b:1" {
		t.Fatalf("except: got %s", got)
	}
	b.refusedBy("a:1")
	b.refusedBy("b:1")
	if got := b.pick("j 1", replicas, ""); got == "" {
		t.Fatalf("every replica refused: still one is tried")
	}
	single := &Decision{InternalName: "only:1"}
	if got := b.pick("k 1", single.addresses(), ""); got != "only:1" {
		t.Fatalf("a job without replica list: got %s", got)
	}
}
