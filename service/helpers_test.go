package service_test

import "github.com/canopyhq/canopy/service"

func PageRequest(limit int) service.PageRequest { return service.PageRequest{Limit: limit} }
