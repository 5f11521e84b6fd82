// Package mail renders Canopy's emails and delivers them.
//
// The outbox worker loads the templates once (LoadTemplates), renders each
// outbox row (Templates.Render) into a Message whose ID is the row's id, and
// hands batches to a Sender: NewSMTPSender for real delivery, NewFileSender
// for development (one .eml file per message). Messages are built with
// github.com/wneessen/go-mail: multipart/alternative (text and HTML),
// quoted-printable UTF-8 bodies, RFC 2047 encoded subjects and names.
//
// The Message-ID is <ID@domain of From>, the same on every attempt, so a
// retry after an uncertain failure (a timeout after the data was sent) can
// be recognized as a duplicate by the receiving side. The Date header is the
// time of the attempt.
//
// Emails carry links, never passwords (rule 4, docs/rules.md).
package mail
