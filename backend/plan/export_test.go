package plan

// DirDatesRoom exposes dirDatesRoom to the tests.
var DirDatesRoom = dirDatesRoom
