package main

import "testing"

func TestIsIdentityHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Audguard-Subject": true, "x-audguard-scope": true, "X_Audguard_Subject": true, "X-AUDGUARD-ANYTHING": true,
		"x_audguard-client_id": true, "X-Audguard-": true,
		"X-Audguard": false, "X-Audguardian": false, "Audguard-Subject": false, "X-Forwarded-For": false, "": false,
	} {
		if got := isIdentityHeader(name); got != want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
