"""Audio and video, through ffmpeg: what a file holds (``probe``), and converting it
(``transcode``), always with a time limit, a thread limit and no network."""
