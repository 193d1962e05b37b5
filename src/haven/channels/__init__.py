"""Ways requesters reach the helpline besides the web pages: protocol in, intake and case services out."""
