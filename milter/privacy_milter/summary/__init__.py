"""The weekly summary email: a typed report in, a multipart email out (text, HTML, charts)."""
