"""Scrapy item pipelines: thin glue calling classifiers/, evidence/ and search/ (issue 4)."""
