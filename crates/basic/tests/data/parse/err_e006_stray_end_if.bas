TALK "done"
END IF
TALK "still read"
