package localauth

import "strings"

// DeviceLabel names the browser and system behind a User-Agent in a few
// words, for a user's list of sessions: "Firefox on Linux", "Chrome on
// Android", "curl". It recognises the common browsers and systems and a few
// command-line clients; anything else is "Unknown device". The label is for
// people to recognise their own sessions, not a security decision: a client
// can send any User-Agent.
func DeviceLabel(ua string) string {
	for _, tool := range []struct{ prefix, name string }{
		{"curl/", "curl"}, {"Wget/", "Wget"}, {"Go-http-client/", "Go program"},
		{"python-requests/", "Python program"}, {"python-httpx/", "Python program"},
	} {
		if strings.HasPrefix(ua, tool.prefix) {
			return tool.name
		}
	}
	browser := firstMatch(ua, [][2]string{
		{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	})
	system := firstMatch(ua, [][2]string{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	default:
		return "Unknown device"
	}
}

// firstMatch returns the name of the first pattern found in s, or "".
func firstMatch(s string, patterns [][2]string) string {
	for _, p := range patterns {
		if strings.Contains(s, p[0]) {
			return p[1]
		}
	}
	return ""
}
