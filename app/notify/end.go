package notify

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferrysync/ferry/backend/bytesize"
	"github.com/ferrysync/ferry/backend/protocol"
)

// ForEnd tells how the ended run s went; errs is the number of failed actions to report.
// Errors, of the run or of its actions, are critical.
func ForEnd(s protocol.Synchronization, errs int) Notification {
	p := s.Progress
	n := Notification{Urgency: UrgencyNormal, Category: "transfer.complete"}
	var body []string
	errsInBody := errs > 0 // unless the summary tells them
	switch s.EndStatus {
	case protocol.EndAborted:
		n.Summary = "Synchronization aborted"
	case protocol.EndError:
		n.Summary = "Synchronization failed"
		if s.EndReason != "" {
			body = append(body, s.EndReason)
		}
	default:
		n.Summary = "Synchronization finished"
		if errs > 0 {
			n.Summary += " with " + count(errs, "error")
			errsInBody = false
		}
	}
	line := fmt.Sprintf("%s of %s", formatInt(p.FinishedActions), count(p.TotalActions, "action"))
	if p.SyncedVolume > 0 {
		line += " · " + bytesize.Format(p.SyncedVolume) + " synchronized"
	}
	if errsInBody {
		line += " · " + count(errs, "error")
	}
	n.Body = strings.Join(append(body, line), "\n")
	if s.EndStatus == protocol.EndError || errs > 0 {
		n.Urgency, n.Category = UrgencyCritical, "transfer.error"
	}
	return n
}

// Of names the profile that ran in the summary, such as "Weekly backup: synchronization
// finished"; an empty name changes nothing.
func (n Notification) Of(profile string) Notification {
	if profile == "" || n.Summary == "" {
		return n
	}
	n.Summary = profile + ": " + strings.ToLower(n.Summary[:1]) + n.Summary[1:]
	return n
}

// count is "1 error", "1,234 errors".
func count(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return formatInt(n) + " " + noun
}

// formatInt groups digits by three: 1,234,567.
func formatInt(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
