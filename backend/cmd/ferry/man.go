package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd writes the manual pages (ferry.1, ferry-sync.1, …) that the packages install;
// SOURCE_DATE_EPOCH, when set, dates them so that packages build reproducibly.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write ferry's manual pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			root.InitDefaultHelpFlag()
			root.InitDefaultVersionFlag()
			header := &doc.GenManHeader{Section: "1", Source: "Ferry " + root.Version, Manual: "Ferry Manual"}
			if epoch, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
				at := time.Unix(epoch, 0).UTC()
				header.Date = &at
			}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			return nil
		},
	}
}
