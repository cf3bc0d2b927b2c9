// Package apps holds ready-made Sluice jobs, one package each.
package apps
