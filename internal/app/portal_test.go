package app

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPortalConfig(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.PortalLinkTTL != 5*time.Minute || c.PortalSessionTTL != time.Hour || c.PortalFrameAncestors != nil || c.PortalURL != "" {
		t.Errorf("portal defaults: link %s, session %s, ancestors %v, url %q", c.PortalLinkTTL, c.PortalSessionTTL, c.PortalFrameAncestors, c.PortalURL)
	}
	c, err = LoadConfig(env(map[string]string{
		"PORTAL_LINK_TTL": "30s", "PORTAL_SESSION_TTL": "8h",
		"PORTAL_FRAME_ANCESTORS": "https://app.blue.example, https://*.blue.example 'self'", "PORTAL_URL": "https://webhooks.example.com/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PortalLinkTTL != 30*time.Second || c.PortalSessionTTL != 8*time.Hour || c.PortalURL != "https://webhooks.example.com" ||
		!slices.Equal(c.PortalFrameAncestors, []string{"https://app.blue.example", "https://*.blue.example", "'self'"}) {
		t.Errorf("portal settings read as %s %s %v %q", c.PortalLinkTTL, c.PortalSessionTTL, c.PortalFrameAncestors, c.PortalURL)
	}
	for _, tt := range []struct{ name, value string }{
		{"PORTAL_LINK_TTL", "1s"}, {"PORTAL_LINK_TTL", "2h"}, {"PORTAL_LINK_TTL", "soon"},
		{"PORTAL_SESSION_TTL", "30s"}, {"PORTAL_SESSION_TTL", "13h"},
		{"PORTAL_FRAME_ANCESTORS", "*"}, {"PORTAL_FRAME_ANCESTORS", "app.blue.example"}, {"PORTAL_FRAME_ANCESTORS", "https://a.example/path"},
		{"PORTAL_FRAME_ANCESTORS", "https://a.example;script-src"}, {"PORTAL_FRAME_ANCESTORS", "'none'"},
		{"PORTAL_URL", "webhooks.example.com"}, {"PORTAL_URL", "https://webhooks.example.com/portal"}, {"PORTAL_URL", "ftp://x"},
	} {
		if _, err := LoadConfig(env(map[string]string{tt.name: tt.value})); err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s=%q: error %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}
