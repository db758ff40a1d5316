package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrysync/ferry/backend/plan"
	"github.com/ferrysync/ferry/backend/rules"
)

// versionsFlags are --versions and --versions-keep, which override the rules file's
// settings.versions and settings.versions_keep.
type versionsFlags struct {
	dir  string
	keep int
	set  *pflag.FlagSet
}

func (v *versionsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&v.dir, "versions", "", "keep the files a run replaces or deletes in DIR/<UTC time of the run>/ inside each data source (DIR relative to it)")
	fl.IntVar(&v.keep, "versions-keep", 0, "at the end of a successful run, remove the kept versions older than this many days (0 keeps them all)")
	v.set = fl
}

// setting is the versions setting: the flags over the rules file's. Every error is a usage
// error.
func (v *versionsFlags) setting(file rules.Safety) (plan.Versions, error) {
	s := plan.Versions{Dir: file.Versions, KeepDays: file.VersionsKeep}
	if v.set.Changed("versions") {
		if err := rules.CheckVersionsDir(v.dir); err != nil {
			return s, usageError("--versions: %w", err)
		}
		s.Dir = v.dir
	}
	if v.set.Changed("versions-keep") {
		if v.keep < 0 {
			return s, usageError("--versions-keep %d: want a number of days, 0 or more", v.keep)
		}
		s.KeepDays = v.keep
	}
	if s.Dir == "" {
		if s.KeepDays > 0 {
			return s, usageError("--versions-keep needs --versions (or settings.versions in the rules file)")
		}
		return plan.Versions{}, nil
	}
	return s, nil
}
