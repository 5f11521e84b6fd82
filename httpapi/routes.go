package httpapi

// registerRoutes is the whole HTTP surface in one place.
func (s *Server) registerRoutes() {
	s.handle("GET /healthz", true, s.handleHealthz)
	s.handle("GET /readyz", true, s.handleReadyz)
	s.handle("GET /metrics", true, s.metricsHandler().ServeHTTP)
	s.handle("GET /openapi.json", true, s.handleOpenAPI)

	s.handle("POST /v1/accounts", false, s.handleCreateAccount)
	s.handle("GET /v1/accounts", false, s.handleFindAccounts)
	s.handle("GET /v1/accounts/{id}", false, s.handleGetAccount)
	s.handle("PATCH /v1/accounts/{id}", false, s.handleUpdateAccount)
	s.handle("DELETE /v1/accounts/{id}", false, s.handleCloseAccount)
	s.handle("POST /v1/accounts/{id}/suspend", false, s.handleSuspend)
	s.handle("POST /v1/accounts/{id}/reactivate", false, s.handleReactivate)
	s.handle("POST /v1/accounts/{id}/move", false, s.handleMove)
	s.handle("GET /v1/accounts/{id}/children", false, s.handleChildren)
	s.handle("GET /v1/accounts/{id}/descendants", false, s.handleDescendants)
	s.handle("GET /v1/accounts/{id}/ancestors", false, s.handleAncestors)
	s.handle("GET /v1/accounts/{id}/external-references", false, s.handleExternalReferences)

	s.handle("GET /v1/accounts/{id}/configurations", false, s.handleListConfigurations)
	s.handle("GET /v1/accounts/{id}/configurations/{namespace}", false, s.handleGetConfiguration)
	s.handle("PUT /v1/accounts/{id}/configurations/{namespace}", false, s.handlePutConfiguration)
	s.handle("DELETE /v1/accounts/{id}/configurations/{namespace}", false, s.handleDeleteConfiguration)

	s.handle("GET /v1/accounts/{id}/workflows", false, s.handleGetWorkflows)
	s.handle("PUT /v1/accounts/{id}/workflows", false, s.handlePutWorkflows)

	s.handle("POST /v1/accounts/{id}/api-keys", false, s.handleCreateAPIKey)
	s.handle("GET /v1/accounts/{id}/api-keys", false, s.handleListAPIKeys)
	s.handle("DELETE /v1/accounts/{id}/api-keys/{keyId}", false, s.handleRevokeAPIKey)

	s.handle("GET /v1/accounts/{id}/users", false, s.handleListUsers)
	s.handle("POST /v1/accounts/{id}/users", false, s.handleCreateUser)
	s.handle("GET /v1/accounts/{id}/users/{userId}", false, s.handleGetUser)
	s.handle("PATCH /v1/accounts/{id}/users/{userId}", false, s.handleUpdateUser)
	s.handle("DELETE /v1/accounts/{id}/users/{userId}", false, s.handleDeleteUser)
	s.handle("POST /v1/accounts/{id}/users/{userId}/disable", false, s.handleDisableUser)
	s.handle("POST /v1/accounts/{id}/users/{userId}/enable", false, s.handleEnableUser)
	s.handle("POST /v1/accounts/{id}/users/{userId}/resend-invitation", false, s.handleResendInvitation)

	// Public and costly (a password hash, an email): limited per client
	// address. POST /v1/signup goes here too.
	s.handleLimited("POST /v1/auth/login", s.handleLogin)
	s.handleLimited("POST /v1/auth/set-password", s.handleSetPassword)
	s.handleLimited("POST /v1/auth/password-reset", s.handlePasswordReset)
	s.handle("POST /v1/auth/logout", false, s.handleLogout)
	s.handle("GET /v1/me", false, s.handleMe)

	s.handle("POST /v1/invitations", false, s.handleCreateInvitation)
	s.handle("GET /v1/invitations", false, s.handleListInvitations)
	s.handle("GET /v1/invitations/{invitationId}", false, s.handleGetInvitation)
	s.handle("POST /v1/invitations/{invitationId}/accept", false, s.invitationAction(s.svc.AcceptInvitation))
	s.handle("POST /v1/invitations/{invitationId}/decline", false, s.invitationAction(s.svc.DeclineInvitation))
	s.handle("POST /v1/invitations/{invitationId}/cancel", false, s.invitationAction(s.svc.CancelInvitation))
	s.handle("POST /v1/invitations/{invitationId}/resend", false, s.invitationAction(s.svc.ResendInvitationEmail))
	s.handle("DELETE /v1/accounts/{id}/parent", false, s.handleLeaveUmbrella)

	s.handle("POST /v1/contacts", false, s.handleCreateContact)
	s.handle("GET /v1/contacts", false, s.handleListContacts)
	s.handle("GET /v1/contacts/{contactId}", false, s.handleGetContact)
	s.handle("PATCH /v1/contacts/{contactId}", false, s.handleUpdateContact)
	s.handle("DELETE /v1/contacts/{contactId}", false, s.handleDeleteContact)
	s.handleLimited("POST /v1/signup", s.handleSignup)

	s.handle("POST /v1/forms", false, s.handleCreateForm)
	s.handle("GET /v1/forms", false, s.handleListForms)
	s.handle("GET /v1/forms/{formId}", false, s.handleGetForm)
	s.handle("PATCH /v1/forms/{formId}", false, s.handleUpdateForm)
	s.handle("DELETE /v1/forms/{formId}", false, s.handleDeleteForm)
	s.handle("PUT /v1/forms/{formId}/example", false, s.handleSetExample)
	s.handle("POST /v1/forms/{formId}/copy", false, s.handleCopyForm)
	s.handle("GET /v1/forms/{formId}/access", false, s.handleExplainAccess)
	s.handle("GET /v1/forms/{formId}/shares", false, s.handleListShares)
	s.handle("PUT /v1/forms/{formId}/shares/{accountId}", false, s.handlePutShare)
	s.handle("DELETE /v1/forms/{formId}/shares/{accountId}", false, s.handleDeleteShare)
	s.handle("POST /v1/forms/{formId}/records", false, s.handleCreateRecord)
	s.handle("GET /v1/forms/{formId}/records", false, s.handleListRecords)
	s.handle("GET /v1/forms/{formId}/records/{recordId}", false, s.handleGetRecord)
	s.handle("PATCH /v1/forms/{formId}/records/{recordId}", false, s.handleUpdateRecord)
	s.handle("DELETE /v1/forms/{formId}/records/{recordId}", false, s.handleDeleteRecord)
	s.handle("GET /v1/dashboard", false, s.handleDashboard)
	s.handle("PATCH /v1/accounts/{id}/link", false, s.handleUpdateLink)

	s.handle("GET /v1/outbox", false, s.handleListOutbox)
	s.handle("GET /v1/audit-events", false, s.handleAuditEvents)
}
