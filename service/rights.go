package service

import "github.com/canopyhq/canopy"

// FormRights says what a caller may do with a form it sees, so that a page
// offers only the buttons the service would accept: the form's role (rule 6
// (docs/rules.md)) together with who the caller is. Members do the
// account's everyday work (questions and data, as the role allows); what
// other accounts get to see — shares, examples — and deleting a form stay
// with admins and API keys. The service still refuses anything forced.
type FormRights struct {
	ViewQuestions bool
	EditQuestions bool
	ViewData      bool
	EditData      bool
	Share         bool // also: tag as an example, delete
	// SeeAudience is reading who can see the form, and why: the owner's
	// members too, who may not change it.
	SeeAudience bool
	Copy        bool
	// SetUpCollection is collecting from the field (web links, SMS): for
	// those who edit the form's data, without the umbrella's help.
	SetUpCollection bool
}

// RightsOn returns what c may do with v.
func (c Caller) RightsOn(v *FormView) FormRights {
	role := v.Role
	return FormRights{
		ViewQuestions:   role.Can(canopy.ViewQuestions) || v.ExampleOnly,
		EditQuestions:   role.Can(canopy.EditQuestions),
		ViewData:        role.Can(canopy.ViewData),
		EditData:        role.Can(canopy.EditData),
		Share:           role.Can(canopy.ShareOrDelete) && c.MayManage(),
		SeeAudience:     role.Can(canopy.ShareOrDelete),
		Copy:            role.Can(canopy.ViewQuestions) || v.ExampleOnly,
		SetUpCollection: role.Can(canopy.EditData),
	}
}

// CreditRights says which credit writes a caller may make on an account it
// sees (rule 8 (docs/rules.md)), for the pages to offer.
type CreditRights struct {
	// Grant gives credits: the platform root issues them (to itself too);
	// an ancestor gives from its own balance.
	Grant bool
	// Transfer moves credits from the acting account down to it.
	Transfer bool
	// Cap sets or lifts what it may draw a month.
	Cap bool
}

// CreditRightsOn returns what c may do with a's credits.
func (c Caller) CreditRightsOn(a *canopy.Account) CreditRights {
	if !c.MayManage() {
		return CreditRights{}
	}
	below := a.ID != c.Acting.ID && a.Path.Contains(c.Acting.ID)
	root := len(c.Acting.Path.IDs()) == 1
	return CreditRights{Grant: below || (root && a.ID == c.Acting.ID), Transfer: below, Cap: below}
}
