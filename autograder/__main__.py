from .cli import main
from .runner import exit_process

exit_process(main())
