// Package connector defines what a source of users is: the Connector
// interface and its optional capabilities (PasswordConnector,
// SignupConnector, and later passkey and MFA ones), the evidence a login
// produces (Method) and the errors connectors share.
//
// Like dex's connector package it holds only interfaces and value types.
// Implementations live in sub-packages: connector/database is the built-in
// "database connection" (users in Latchkey's own store), connector/password
// its password hashing and policy. A custom user store implements Connector
// plus whichever optional interfaces it supports.
//
// This package may import only the standard library and storage.
package connector
