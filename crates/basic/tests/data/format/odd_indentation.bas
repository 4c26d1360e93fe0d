IF a > 1 THEN
		TALK "tabbed"
      IF b THEN
TALK "flat"
          END IF
   END IF
        FOR EACH v IN vs
 PRINT v
	 NEXT
   x   =    1   +2*  3
