# notices (de)
