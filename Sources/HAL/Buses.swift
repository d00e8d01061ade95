import CI2C
import CGPIOD
