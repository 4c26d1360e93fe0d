RETURN "hi there"
