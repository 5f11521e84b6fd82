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
	Copy          bool
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
		Copy:            role.Can(canopy.ViewQuestions) || v.ExampleOnly,
		SetUpCollection: role.Can(canopy.EditData),
	}
}
