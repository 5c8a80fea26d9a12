# notices (en)
