// Package pagetest checks rendered Latchkey pages for the rules every page
// keeps: accessible forms (a label for every input, aria references that
// resolve, one autofocus) and a strict Content-Security-Policy (no inline
// scripts, styles or event handlers). Tests of the templates and of the
// handlers that render them share it.
//
// It may import the standard library and golang.org/x/net/html only.
package pagetest

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/net/html"
)

// Check parses a page and returns every rule it breaks, or nothing. A page
// that does not parse is one problem.
func Check(page []byte) []string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return []string{fmt.Sprintf("parse page: %v", err)}
	}
	var (
		problems  []string
		ids       = map[string]int{}
		labelFor  = map[string]bool{}
		controls  []*html.Node
		described []string
		autofocus int
		lang      string
	)
	var walk func(n *html.Node, inLabel bool)
	walk = func(n *html.Node, inLabel bool) {
		if n.Type == html.ElementNode {
			if id, ok := attr(n, "id"); ok {
				ids[id]++
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				switch {
				case k == "style":
					problems = append(problems, fmt.Sprintf("<%s> has an inline style attribute", n.Data))
				case strings.HasPrefix(k, "on"):
					problems = append(problems, fmt.Sprintf("<%s> has an inline event handler %s", n.Data, k))
				case k == "autofocus":
					autofocus++
				case k == "aria-describedby" || k == "aria-labelledby" || k == "aria-controls":
					described = append(described, strings.Fields(a.Val)...)
				}
				if (k == "href" || k == "src" || k == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
					problems = append(problems, fmt.Sprintf("<%s> has a javascript: URL", n.Data))
				}
			}
			switch n.Data {
			case "html":
				lang, _ = attr(n, "lang")
			case "style":
				problems = append(problems, "page has an inline <style> element")
			case "script":
				if src, _ := attr(n, "src"); src == "" {
					problems = append(problems, "page has an inline <script> element")
				}
			case "label":
				if f, ok := attr(n, "for"); ok {
					labelFor[f] = true
				}
				inLabel = true
			case "input", "select", "textarea":
				if t, _ := attr(n, "type"); t != "hidden" && t != "submit" && t != "button" {
					if !inLabel {
						controls = append(controls, n)
					}
				}
			case "button":
				if strings.TrimSpace(textOf(n)) == "" {
					if l, _ := attr(n, "aria-label"); l == "" {
						problems = append(problems, "a <button> has no accessible name")
					}
				}
			case "img":
				if _, ok := attr(n, "alt"); !ok {
					problems = append(problems, "an <img> has no alt attribute")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inLabel)
		}
	}
	walk(doc, false)

	if lang == "" {
		problems = append(problems, "<html> has no lang attribute")
	}
	for _, c := range controls {
		id, _ := attr(c, "id")
		name, _ := attr(c, "name")
		switch {
		case id == "":
			problems = append(problems, fmt.Sprintf("<%s name=%q> has no id for a label", c.Data, name))
		case !labelFor[id]:
			if l, _ := attr(c, "aria-label"); l == "" {
				problems = append(problems, fmt.Sprintf("<%s id=%q> has no <label for>", c.Data, id))
			}
		}
	}
	for _, ref := range described {
		if ids[ref] == 0 {
			problems = append(problems, fmt.Sprintf("aria reference %q names no element", ref))
		}
	}
	for id, n := range ids {
		if n > 1 {
			problems = append(problems, fmt.Sprintf("id %q is used %d times", id, n))
		}
	}
	if autofocus > 1 {
		problems = append(problems, fmt.Sprintf("%d elements have autofocus", autofocus))
	}
	return problems
}

// Inputs returns the page's <input> elements keyed by name, each as its
// attributes, for tests that assert markup.
func Inputs(page []byte) (map[string]map[string]string, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse page: %w", err)
	}
	out := map[string]map[string]string{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" {
			attrs := map[string]string{}
			for _, a := range n.Attr {
				attrs[a.Key] = a.Val
			}
			out[attrs["name"]] = attrs
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out, nil
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
