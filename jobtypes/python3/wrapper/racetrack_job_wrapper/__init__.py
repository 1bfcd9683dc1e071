"""Runtime wrapper of the python3 job type: serves a user's job class as a Racetrack job over HTTP.

Jobs import helpers from here exactly as they do upstream, e.g.
`from racetrack_job_wrapper.call import call_job` or
`from racetrack_job_wrapper.endpoint_config import EndpointConfig`.
The server itself is started by the image's command: `python -m racetrack_job_wrapper run job.py`.
"""

__version__ = "1.0.0"
