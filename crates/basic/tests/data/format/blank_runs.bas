x = 1



y = 2


IF x = y THEN

  TALK "same"


  TALK "still"
END IF



TALK "end"
