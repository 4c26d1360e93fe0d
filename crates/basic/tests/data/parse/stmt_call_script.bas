' Runs other scripts of the same package, sharing variables
customer = "Ann"
CALL "helpers.bas"
CALL "greet-" & customer & ".bas"
TALK "back in the main script"
