// Package mail sends Latchkey's email: address verification, password reset,
// passkey recovery and unblock links.
//
// Sender is the one interface the rest of Latchkey uses. Two implementations:
//
//   - SMTP delivers through a mail server (Config: host, port, TLS mode
//     "none", "starttls" or "tls", optional PLAIN authentication, the From
//     address, a timeout). It uses the standard library's net/smtp, which is
//     frozen but complete for submission: Latchkey only needs EHLO,
//     STARTTLS, AUTH PLAIN, MAIL, RCPT and DATA. PLAIN credentials are only
//     sent over TLS (or to a loopback server), as net/smtp enforces.
//   - Outbox is the development fallback when no SMTP server is configured:
//     every message is written to the log at info level with the links it
//     contains, so that a developer running `latchkey serve` can follow a
//     verification or reset link from the terminal, and the last messages
//     are kept in memory for a development outbox page (List). The memory
//     belongs to one process: with several replicas each keeps its own
//     outbox, so the page is only meaningful for single-process development.
//     Never use the Outbox in production: it logs live tokens.
//
// Neither implementation logs credentials; SMTP never logs message bodies
// (they carry single-use tokens), only the recipient and subject on failure.
//
// mail/mailtest is a real in-process SMTP server for tests (STARTTLS with a
// generated certificate, AUTH PLAIN), with helpers to read the links and
// codes of received mail.
//
// This package imports only the standard library.
package mail
